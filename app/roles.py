"""The two roles, apart from the tables so that the command line can offer them without loading SQLModel."""

from enum import StrEnum


class Role(StrEnum):
    physician = "physician"
    researcher = "researcher"
