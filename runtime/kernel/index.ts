export { appendAll, keepNewest, maxOf, minOf, partitionPoint } from './arrays.js';
export { AssertionError, assert, unreachable } from './assert.js';
export { type Clock, type TimerHandle, SystemClock, SimulatedClock } from './clock.js';
export { ERROR_CODES, type ErrorCode, FedError, fedError, isFedError } from './errors.js';
export { LIMITS } from './limits.js';
export { Rng, randomSeed } from './rng.js';
