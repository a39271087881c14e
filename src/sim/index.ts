export { startSimulator, type Fault, type RecordedRequest, type Row, type SimOptions, type SimUser, type Simulator } from './server.js';
export { parseEncodedQuery, compileFilter, compileOrder } from './encoded-query.js';
