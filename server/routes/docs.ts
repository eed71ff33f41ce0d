import Router from '@koa/router';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { openApiDocument } from '../openapi.ts';

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
    const asset = assets[ctx.params.asset as keyof typeof assets];
    if (!asset) return;
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.type = asset.type;
    ctx.body = asset.body;
  });
  return router;
}
