"""SNS subjects: SNS refuses a publish whose subject is over 100 characters, not printable ASCII,
or multi-line; an alert about a long asset name with non-ASCII text must still be delivered."""

from __future__ import annotations

from lakehouse_assets.resources.aws.sns import sns_subject


def test_subjects_fit_sns_rules() -> None:
    assert sns_subject("[lakehouse] gold failed: gold/x/y") == "[lakehouse] gold failed: gold/x/y"
    assert sns_subject("Café\nÜber — ✓") == "Cafe Uber"
    long = sns_subject("[lakehouse] silver failed: " + ", ".join(["silver/wordpress_api/a"] * 9))
    assert len(long) == 100 and long.endswith("...")
    assert sns_subject("…") == "..."
    assert sns_subject("✓\t") == "lakehouse alert"
