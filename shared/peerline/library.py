"""The dashboard's library: canned responses and resources, edited by supervisors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LibraryEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9-]+$")
    title: str = Field(min_length=1, max_length=80)
    text: str = Field(min_length=1, max_length=1000)


class Library(BaseModel):
    model_config = ConfigDict(extra="forbid")

    canned_responses: list[LibraryEntry] = Field(default_factory=list, max_length=100)
    resources: list[LibraryEntry] = Field(default_factory=list, max_length=100)


DEFAULT_LIBRARY = Library(
    canned_responses=[
        LibraryEntry(id="greeting", title="Greeting", text="Hi, I'm here with you. What's going on for you tonight?"),
        LibraryEntry(
            id="ask-suicide",
            title="Ask about suicide",
            text="Sometimes when people feel this way they think about suicide. Are you thinking about suicide?",
        ),
        LibraryEntry(id="still-here", title="Still here", text="I'm still here. Take your time."),
        LibraryEntry(
            id="closing",
            title="Closing",
            text="Thank you for reaching out tonight. You can text this number again any time.",
        ),
    ],
    resources=[
        LibraryEntry(id="988", title="988 Lifeline", text="You can call or text 988 any time, day or night."),
        LibraryEntry(id="911", title="Emergency", text="If you are in danger right now, please call 911."),
    ],
)
