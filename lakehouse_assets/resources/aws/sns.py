"""Alerts to an SNS topic per layer, the topic ARNs read from the parameters.

The alert content and the retried delivery live in ``automation.alerts``; this resource only
delivers one message. The message is JSON; the subject is made to fit SNS's rules (at most 100
characters, printable ASCII, no line breaks) so a long asset name never makes a publish fail.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from lakehouse_assets import settings
from lakehouse_assets.resources.aws.boto import AwsClientsResource
from lakehouse_assets.resources.notifications import NotificationsResource
from lakehouse_assets.resources.parameters import ParametersResource

SUBJECT_LIMIT = 100


def sns_subject(subject: str) -> str:
    """``subject`` as SNS accepts it: printable ASCII, one line, at most 100 characters."""
    text = unicodedata.normalize("NFKD", subject.replace("…", "..."))
    text = "".join(c if " " <= c <= "~" else " " for c in text if not unicodedata.combining(c))
    text = " ".join(text.split()) or "lakehouse alert"
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


class SnsNotificationsResource(NotificationsResource):
    """Publishes to ``/sns/data/lakehouse/{layer}``, or ``/sns/pipeline/failure`` for no layer."""

    aws: AwsClientsResource
    parameters: ParametersResource

    def topic_arn(self, layer: str | None) -> str:
        names = settings.PARAMETER_NAMES
        return self.parameters.get_string(
            names.topic(layer) if layer else names.sns_pipeline_failure
        )

    def publish(self, layer: str | None, subject: str, message: dict[str, Any]) -> str:
        response = self.aws.client("sns").publish(
            TopicArn=self.topic_arn(layer),
            Subject=sns_subject(subject),
            Message=json.dumps(message, sort_keys=True, default=str),
            MessageAttributes={
                "layer": {"DataType": "String", "StringValue": layer or "pipeline"},
            },
        )
        return str(response["MessageId"])
