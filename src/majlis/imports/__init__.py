"""Customer import jobs: CSV/XLSX, staged with COPY, applied in resumable batches."""
