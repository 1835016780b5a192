/** The Docker Engine API version this server speaks (Docker 20.10's). */
export const API_VERSION = '1.41';
/** The oldest API version it accepts, as Docker 20.10. */
export const MIN_API_VERSION = '1.24';
