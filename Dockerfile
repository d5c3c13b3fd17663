# A run's model as an HTTP service (see README "Serving"):
#   docker build -t titanic-model --build-arg RUN=runs/<run-id> .
#   docker run --rm -p 8000:8000 titanic-model
FROM python:3.11-slim

# LightGBM needs OpenMP's runtime.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/mlpilot
COPY pyproject.toml README.md ./
COPY agent agent
COPY tools tools
COPY prompts prompts
RUN pip install --no-cache-dir .

ARG RUN
RUN test -n "$RUN" || (echo "give the run folder to ship: --build-arg RUN=runs/<run-id>" >&2; exit 2)
COPY ${RUN} /srv/run

# The image's data folder has no signing key, so the run is served with --trust: choosing the folder to
# copy in at build time is the vouching (build only from runs you made or trust).
ENV MLPILOT_HOME=/srv/home PYTHONUNBUFFERED=1
RUN useradd --system --home /srv/home --create-home mlpilot && chown -R mlpilot /srv/run
USER mlpilot
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
CMD ["mlpilot", "serve", "/srv/run", "--host", "0.0.0.0", "--port", "8000", "--trust"]
