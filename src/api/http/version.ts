/** The Docker Engine API version this server speaks, and the oldest it accepts (as Docker 20.10). */
export const API_VERSION = '1.41';
export const MIN_API_VERSION = '1.24';
