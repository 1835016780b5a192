/** The object model of DESIGN.md §3: nodes, services, tasks and the cluster, with defaults and validation. */
export * from './common';
export * from './task-state';
export * from './node';
export * from './service';
export * from './task';
export * from './cluster';
export * from './defaults';
export * from './validate';
export * from './constraint';
