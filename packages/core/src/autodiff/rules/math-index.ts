/** Registers the math gradient rules (one module per op family). */
export {};
