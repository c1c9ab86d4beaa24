# One image recipe for every hub worker (connectors, processors, sinks): build with
#   docker build -f ops/docker/worker.Dockerfile --build-arg PROJECT=<dir of the worker's .csproj> .
# from the repository root (docker-compose.yml does this per worker). PROJECT's last segment is the assembly name.
ARG DOTNET_VERSION=10.0

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
ARG PROJECT
WORKDIR /src
# The whole context (worker.Dockerfile.dockerignore drops build outputs, tests and local state): a worker may reference
# any project of the solution, and copying folders one by one breaks on folders that hold no project yet.
COPY . .
RUN test -n "$PROJECT" || { echo "build arg PROJECT is required" >&2; exit 1; }
RUN dotnet restore "$PROJECT"
RUN dotnet publish "$PROJECT" -c Release --no-restore -o /app -p:UseAppHost=false \
    && printf '#!/bin/sh\nexec dotnet /app/%s.dll "$@"\n' "$(basename "$PROJECT")" > /app/entrypoint.sh \
    && chmod +x /app/entrypoint.sh

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS runtime
# curl only for the container healthcheck against /health.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
# Workers bind their /health and /metrics port from ASPNETCORE_URLS (set per service in docker-compose.yml).
ENV DOTNET_ENVIRONMENT=Production \
    ASPNETCORE_ENVIRONMENT=Production
# /state: a worker's local state (e.g. the processors' RocksDB), a volume in compose; owned by the non-root app user.
RUN mkdir -p /state && chown "$APP_UID" /state
USER $APP_UID
ENTRYPOINT ["/app/entrypoint.sh"]
