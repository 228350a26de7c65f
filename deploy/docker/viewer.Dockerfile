# syntax=docker/dockerfile:1
# The viewer: the Vite SPA built with node, served by unprivileged nginx (uid 101, port 8080) together with the
# /v1/graphql proxy to Hasura (deploy/nginx/default.conf). Build from the repository root:
#   docker buildx build -f deploy/docker/viewer.Dockerfile --platform linux/amd64,linux/arm64 -t benchpipe/viewer .
# The bundle is platform-independent, so the node stage runs on the builder's platform only.
ARG NODE_VERSION=22
ARG NGINX_VERSION=1.29

FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-alpine AS build
WORKDIR /src/viewer
COPY viewer/package.json viewer/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY viewer/ ./
# config.json is read at run time from next to index.html; ship the same-origin default when the app has none,
# so one image serves any deployment (mount another config.json over it to point elsewhere).
RUN npm run build && \
    { test -f dist/config.json || printf '{"graphqlUrl": "/v1/graphql"}\n' > dist/config.json; }

FROM nginxinc/nginx-unprivileged:${NGINX_VERSION}-alpine
COPY deploy/nginx/default.conf /etc/nginx/conf.d/default.conf
COPY --from=build /src/viewer/dist /usr/share/nginx/html
USER 101:101
EXPOSE 8080
