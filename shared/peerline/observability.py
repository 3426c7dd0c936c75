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
    """For plain ``logging`` handlers (the local line's console): mask numbers in the rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_phone_numbers(record.getMessage())
        record.args = None
        return True


def make_logger(**kwargs: Any) -> Logger:
    """A Powertools logger (service from POWERTOOLS_SERVICE_NAME) that masks phone numbers."""
    return Logger(logger_formatter=PhoneMaskingFormatter(), **kwargs)
