"""Logging that can't leak a phone number, whatever a caller passes to it."""

from __future__ import annotations

import logging
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from peerline.phone import mask_phone_numbers


class PhoneMaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with every phone-number-looking run masked in the final line."""

    def serialize(self, log: Any) -> str:
        return mask_phone_numbers(super().serialize(log))


class PhoneMaskingFilter(logging.Filter):
    """Masks numbers in a record's message, traceback and stack, before any handler or formatter renders it.

    The traceback is rendered here (masked, into ``exc_text``, which ``logging.Formatter`` uses as is) because a
    formatter would otherwise render it after every filter has run, from the live exception.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):  # Powertools may log a dict: its formatter masks the whole JSON line
            try:
                record.msg = mask_phone_numbers(record.getMessage())
                record.args = None
            except (TypeError, ValueError):  # arguments that don't fit the message: logging reports those itself
                pass
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_phone_numbers(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_phone_numbers(record.stack_info)
        return True


_MASKING = PhoneMaskingFilter()


def install_phone_masking() -> None:
    """Run ``PhoneMaskingFilter`` on every log record this process makes, whatever logger or handler it goes to.

    Installed where records are made (the ``logging`` record factory) rather than on some loggers or handlers: records
    of loggers that don't propagate, and handlers added later (botocore's, urllib3's, the Lambda runtime's, a
    library's) would escape a filter attached to one of them. Idempotent.
    """
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "masks_phone_numbers", False):
        return

    def make_masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        _MASKING.filter(record)
        return record

    make_masked_record.masks_phone_numbers = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_masked_record)


def make_logger(**kwargs: Any) -> Logger:
    """A Powertools logger (service from POWERTOOLS_SERVICE_NAME) that masks phone numbers, as does every other logger
    of the process from then on (``install_phone_masking``)."""
    install_phone_masking()
    return Logger(logger_formatter=PhoneMaskingFormatter(), **kwargs)
