"""A logged-in request's two reads, the session and its user, as prepared statements (SESSION_ENGINE and an entry of
AUTHENTICATION_BACKENDS).

Every page request of a logged-in user reads its session row and then its user row. Through the ORM each read is
compiled from a queryset and planned by PostgreSQL anew; on the task page, which an annotator loads for every label,
the two were a quarter of the server's CPU per label (bench/RESULTS.md, "The labeling loop, round 7"). Here they
are one fixed statement each, prepared once per connection (`annotation.db.prepared_cursor`) and read into the same
model instances. Everything else is Django's: what is read and when, expiry, saving, cycling a key on login, the
session hash check of `django.contrib.auth.get_user`, `user_can_authenticate`, the permissions of `ModelBackend`.
On other databases, or with DB_PREPARE_HOT=0, these are Django's own reads.
"""
from functools import cache

from django.conf import settings
from django.contrib.auth import backends, get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.backends import db
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from .db import prepared_cursor


def _prepared() -> bool:
    return connections[DEFAULT_DB_ALIAS].vendor == "postgresql" and settings.DB_PREPARE_HOT


class SessionStore(db.SessionStore):
    """Django's database sessions (`django.contrib.sessions.backends.db`), the row read by a prepared statement."""

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
    converters = [f.get_db_converters(connection) + connection.ops.get_db_converters(f.get_col(model._meta.db_table))
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
