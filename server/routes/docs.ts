import Router from '@koa/router';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { json, openApiDocument, registry, z } from '../openapi.ts';

// GET /openapi.json and a Swagger UI reference page at /docs, served from the swagger-ui-dist
// package (no CDN), so the docs work offline and cannot drift from the spec.
const swaggerUiDir = join(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'), '..');
const assets = {
  'swagger-ui.css': { type: 'text/css', body: readFileSync(join(swaggerUiDir, 'swagger-ui.css')) },
  'swagger-ui-bundle.js': { type: 'application/javascript', body: readFileSync(join(swaggerUiDir, 'swagger-ui-bundle.js')) },
};

const page = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Shop API reference</title><link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="ui"></div><script src="/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui' });</script></body>
</html>`;

registry.registerPath({
  method: 'get',
  path: '/openapi.json',
  summary: 'This OpenAPI 3.1 document',
  tags: ['Operations'],
  responses: { 200: { description: 'The API description', ...json(z.object({}).passthrough()) } },
});
registry.registerPath({
  method: 'get',
  path: '/docs',
  summary: 'Human-readable API reference rendered from /openapi.json',
  tags: ['Operations'],
  responses: { 200: { description: 'HTML page', content: { 'text/html': { schema: z.string() } } } },
});

export function docsRoutes(): Router {
  const router = new Router();
  let document: unknown; // built on first request, after every route module has registered
  router.get('/openapi.json', (ctx) => {
    document ??= openApiDocument();
    ctx.body = document;
  });
  router.get('/docs', (ctx) => {
    ctx.type = 'text/html';
    ctx.body = page;
  });
  router.get('/docs/:asset', (ctx) => {
    // Own keys only: "constructor" or "__proto__" must not find Object.prototype's members.
    const name = ctx.params.asset ?? '';
    if (!Object.hasOwn(assets, name)) return;
    const asset = assets[name as keyof typeof assets];
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.type = asset.type;
    ctx.body = asset.body;
  });
  return router;
}
