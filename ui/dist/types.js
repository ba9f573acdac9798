/** Shapes of the server's JSON answers (see /api/v1/openapi.json). */
export {};
