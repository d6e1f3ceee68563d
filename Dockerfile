# The slicescope dashboard. On its own it runs the built-in simulated cluster;
# mount a kubeconfig (see docker-compose.yml) or run in a cluster (deploy/) to watch a real one.
FROM python:3.11-slim
WORKDIR /srv/slicescope
COPY pyproject.toml setup.py README.md ./
COPY app ./app
COPY static ./static
COPY templates ./templates
RUN pip install --no-cache-dir . && useradd --uid 10001 --no-create-home slicescope
USER 10001
EXPOSE 8000
# Inside a container the server must listen on all of the container's interfaces to be
# reachable at all; docker-compose.yml publishes it on the host's loopback only.
ENTRYPOINT ["slicescope", "--host", "0.0.0.0", "--port", "8000"]
