import { defineConfig } from 'vitest/config';

// base './' keeps every asset URL relative, so one build works under any path prefix (nginx location, k8s
// ingress); the site-specific part is public/config.json, read at run time.
export default defineConfig({
  base: './',
  build: { target: 'es2022', sourcemap: true },
  test: { include: ['test/**/*.test.ts'] },
});
