# ruff: noqa: DJ008 - bench models, never shown
from django.db import models


class Token(models.Model):
    secret_hash = models.CharField(max_length=64, unique=True)
    organisation_id = models.IntegerField()


class Sequence(models.Model):
    year = models.IntegerField(unique=True)
    last = models.IntegerField(default=0)


class Ticket(models.Model):
    number = models.CharField(max_length=32, unique=True)
    organisation_id = models.IntegerField(db_index=True)
    reporter_id = models.IntegerField()
    subject = models.CharField(max_length=250)
    description = models.TextField()
    category = models.CharField(max_length=32)
    priority = models.IntegerField()
    status = models.CharField(max_length=16, default="backlog", db_index=True)
    created_at = models.DateTimeField(db_index=True)


class Message(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE)
    body = models.TextField()
    created_at = models.DateTimeField()


class Event(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE)
    action = models.CharField(max_length=64)
    created_at = models.DateTimeField()
