# Copy to instance/config.py (the app writes one with random keys on first start).
# Every key can also be set as an environment variable FLASK_<KEY>.
SECRET_KEY = "change-me"
PII_KEY = "a Fernet key: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
# SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://user:pass@127.0.0.1:5432/registry"
# SMS_BACKEND = "http"
# SMS_HTTP_URL = "http://sms-gateway.internal/send"
# CAPTCHA_ENABLED = True
# RATELIMIT_STORAGE_URI = "redis://127.0.0.1:6379/0"
# UPLOAD_MAX_BYTES = 5242880
