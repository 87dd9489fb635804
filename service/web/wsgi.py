"""The WSGI entry point: `gunicorn -c service/web/gunicorn.conf.py service.web.wsgi:app`."""

from service.web import create_app

app = create_app()
