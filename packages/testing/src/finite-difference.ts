/**
 * The central finite difference of `loss` in element `i` of `param` (changed in place and
 * restored): (loss(x + eps) - loss(x - eps)) / 2 eps, for checking analytic gradients.
 */
export async function centralDifference(param: Float32Array | number[], i: number, eps: number, loss: () => Promise<number>): Promise<number> {
  const x = param[i]!;
  param[i] = x + eps;
  const up = await loss();
  param[i] = x - eps;
  const down = await loss();
  param[i] = x;
  return (up - down) / (2 * eps);
}
