/** nowpipe's version: `--version` and the default User-Agent. Kept equal to package.json's. */
export const VERSION = '0.1.0';
