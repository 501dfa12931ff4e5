export const notAWorker = 1;
