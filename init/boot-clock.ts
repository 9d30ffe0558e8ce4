/**
 * When bay0's modules began to evaluate, on its process clock (0 at exec):
 * main.ts imports this first, so the time until then is Bun's own start.
 */
export const EVALUATION_STARTED_MS = performance.now();
