export { startSimulator, type Fault, type RecordedRequest, type Row, type SimOAuthClient, type SimOAuthOptions, type SimOptions, type SimUser, type Simulator } from './server.js';
export { parseEncodedQuery, compileFilter, compileOrder } from './encoded-query.js';
