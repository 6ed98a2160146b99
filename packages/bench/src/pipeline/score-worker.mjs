// Worker threads do not inherit the TypeScript loader in every host (vitest, plain node): register it.
import { register } from 'tsx/esm/api';

register();
await import('./score-worker-main.ts');
