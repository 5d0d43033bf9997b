// The package's main entry: the public faces of each layer.
export * from './runtime/index.js';
