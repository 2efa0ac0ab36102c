# syntax=docker/dockerfile:1
# Two images from one file:
#   api          the GraphQL API (and optional CPU workers): node:20 on Debian 12
#   worker-cuda  GPU workers: CUDA 12 + cuDNN 9 runtime with Node 20 and onnxruntime-node's CUDA 12 provider

FROM node:20-bookworm AS build
WORKDIR /app
# better-sqlite3 compiles from source; the onnxruntime-node postinstall is skipped by package.json.
COPY package.json package-lock.json .npmrc ./
RUN npm config delete nodedir --location=project && npm ci --ignore-scripts && npm rebuild better-sqlite3 sharp
# `npm run build` compiles src/ (tsc) and bundles the demo page, web/, into web/dist (vite).
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY web ./web
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim AS api
WORKDIR /app
# All interfaces: a published port reaches the container from outside, never its loopback.
ENV NODE_ENV=production HITA_DATA_DIR=/data HITA_HOST=0.0.0.0
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The demo page `hita serve` serves at /, looked up next to dist/ (src/main.ts).
COPY --from=build /app/web/dist ./web/dist
COPY package.json ./
COPY models ./models
VOLUME /data
EXPOSE 4000
CMD ["node", "dist/cli.js", "serve"]

FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04 AS worker-cuda
COPY --from=node:20-bookworm-slim /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
ENV NODE_ENV=production HITA_EP=cuda
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY models ./models
# Fetch the CUDA 12 execution provider that npm installs skip (needs network at build time).
RUN ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install
# /healthz and /metrics of the worker (HITA_WORKER_PORT)
EXPOSE 9400
CMD ["node", "dist/cli.js", "worker"]
