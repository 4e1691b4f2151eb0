# syntax=docker/dockerfile:1
# Build a wheel in a full image, run it from a slim one as a non-root user, models baked in.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY moderation ./moderation
COPY training ./training
RUN pip wheel --no-cache-dir --constraint constraints.txt --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MODERATION_HOST=0.0.0.0 MODERATION_PORT=8080 \
    MODERATION_DATA_DIR=/var/lib/moderation MODERATION_MODELS_DIR=/opt/moderation/models
RUN useradd --system --uid 10001 --home-dir /var/lib/moderation --create-home moderation
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels /wheels/moderation-*.whl && rm -rf /wheels
# Models come from this repository; they are data (.npz + JSON + text, no pickle), hash-checked on load,
# so serving installs neither scikit-learn nor joblib.
COPY models /opt/moderation/models
USER moderation
VOLUME ["/var/lib/moderation"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"
# run_app handles SIGTERM: stops accepting, lets in-flight requests finish.
STOPSIGNAL SIGTERM
ENTRYPOINT ["moderation"]
CMD ["serve"]
