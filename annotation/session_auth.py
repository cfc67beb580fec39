"""A logged-in request's two reads, the session and its user, as prepared statements (SESSION_ENGINE and an entry of
AUTHENTICATION_BACKENDS).

Every page request of a logged-in user reads its session row and then its user row. Through the ORM each read is
compiled from a queryset and planned by PostgreSQL anew; on the task page, which an annotator loads for every label,
the two were a quarter of the server's CPU per label (bench/RESULTS.md, "The labeling loop, round 7"). Here they
are one fixed statement each, prepared once per connection (`annotation.db.prepared_cursor`) and read into the same
model instances. Everything else is Django's: what is read and when, expiry, saving, cycling a key on login, the
session hash check of `django.contrib.auth.get_user`, `user_can_authenticate`, the permissions of `ModelBackend`.
With another database, another user model, database routers or DB_PREPARE_HOT=0 these are Django's own reads
(`_prepared`).
"""
from functools import cache

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, backends, get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends import db
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from .db import prepared_cursor


def _prepared() -> bool:
    """The prepared reads apply to the default PostgreSQL database with Django's own user model and no routers (the
    project's setup); anything else keeps Django's reads, which know about routers and custom managers."""
    return (connections[DEFAULT_DB_ALIAS].vendor == "postgresql" and settings.DB_PREPARE_HOT
            and settings.AUTH_USER_MODEL == "auth.User" and not settings.DATABASE_ROUTERS)


# Sessions made when AUTHENTICATION_BACKENDS named Django's ModelBackend name it; read as this module's, so that
# nobody is logged out by the change (Django's get_user only takes a backend the settings list).
_RENAMED_BACKENDS = {"django.contrib.auth.backends.ModelBackend": "annotation.session_auth.ModelBackend"}


class SessionStore(db.SessionStore):
    """Django's database sessions (`django.contrib.sessions.backends.db`), the row read by a prepared statement."""

    def load(self) -> dict:
        data = super().load()
        renamed = _RENAMED_BACKENDS.get(data.get(BACKEND_SESSION_KEY))
        if (renamed in settings.AUTHENTICATION_BACKENDS
                and data[BACKEND_SESSION_KEY] not in settings.AUTHENTICATION_BACKENDS):
            data[BACKEND_SESSION_KEY] = renamed
            self.modified = True  # saved with the new name at the end of the request
        return data

    def _get_session_from_db(self):
        if not _prepared():
            return super()._get_session_from_db()
        table = self.model._meta.db_table
        with prepared_cursor() as cursor:
            cursor.execute(f"SELECT session_data, expire_date FROM {table} "  # noqa: S608 - the model's own table
                           "WHERE session_key = %s AND expire_date > %s", [self.session_key, timezone.now()])
            row = cursor.fetchone()
        if row is None:  # no such session, or it expired: as Django's (a new key is made when one is saved)
            self._session_key = None
            return None
        return self.model(session_key=self.session_key, session_data=row[0], expire_date=row[1])


@cache
def _user_select(model: type[AbstractBaseUser]) -> tuple[str, list, list]:
    """The user model's row by primary key: the statement, the fields' attribute names and their converters."""
    connection = connections[DEFAULT_DB_ALIAS]
    fields = model._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = (f"SELECT {columns} FROM {connection.ops.quote_name(model._meta.db_table)} "  # noqa: S608 - the model's
           f"WHERE {connection.ops.quote_name(model._meta.pk.column)} = %s")
    # In the ORM's order (SQLCompiler.get_converters): the backend's, then the field's. None for auth.User here.
    converters = [connection.ops.get_db_converters(f.get_col(model._meta.db_table)) + f.get_db_converters(connection)
                  for f in fields]
    return sql, [f.attname for f in fields], converters


class ModelBackend(backends.ModelBackend):
    """Django's `ModelBackend` (passwords, permissions, `user_can_authenticate`), the session's user read by a
    prepared statement."""

    def get_user(self, user_id):
        if not _prepared():
            return super().get_user(user_id)
        model = get_user_model()
        try:
            pk = model._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        sql, names, converters = _user_select(model)
        connection = connections[DEFAULT_DB_ALIAS]
        with prepared_cursor() as cursor:
            cursor.execute(sql, [pk])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for i, field_converters in enumerate(converters):
            for convert in field_converters:
                values[i] = convert(values[i], None, connection)
        user = model.from_db(DEFAULT_DB_ALIAS, names, values)
        return user if self.user_can_authenticate(user) else None
