"""The period of a report, chosen with a GET form so that its URL can be shared."""
from dataclasses import dataclass
from datetime import date, timedelta

from wtforms import DateField, SelectField
from wtforms.validators import Optional

from ..forms import Form

PERIODS = {"month": "Ce mois-ci", "last_month": "Le mois dernier", "quarter": "Ce trimestre",
           "year": "Cette année", "custom": "Dates choisies"}
MAX_DAYS = 3660  # ten years


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self, kind: str) -> "Period":
        """The period to compare with: the month, quarter or year before, or as many days before."""
        if kind in ("month", "last_month"):
            end = self.start - timedelta(days=1)
            return Period(end.replace(day=1), end)
        if kind == "quarter":
            end = self.start - timedelta(days=1)
            return Period(date(end.year, end.month - 2, 1), end)
        if kind == "year":
            return Period(date(self.start.year - 1, 1, 1), date(self.start.year - 1, 12, 31))
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))


class PeriodForm(Form):
    class Meta:
        csrf = False  # a GET form: its URL is shared

    period = SelectField("Période", choices=list(PERIODS.items()), default="month")
    start = DateField("Du", validators=[Optional()])
    end = DateField("au", validators=[Optional()])

    def chosen(self, today: date) -> Period | None:
        """The period asked for (this month by default), or None with a message next to the field."""
        self.validate()  # fills each field's errors (a date that does not parse)
        kind = self.period.data if self.period.data in PERIODS else "month"
        if kind == "month":
            return Period(today.replace(day=1), today)
        if kind == "last_month":
            end = today.replace(day=1) - timedelta(days=1)
            return Period(end.replace(day=1), end)
        if kind == "quarter":
            return Period(date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today)
        if kind == "year":
            return Period(date(today.year, 1, 1), today)
        if self.start.errors or self.end.errors:
            return None
        if not self.start.data or not self.end.data:
            (self.start if not self.start.data else self.end).errors.append("Choisissez les deux dates.")
            return None
        if self.end.data < self.start.data:
            self.end.errors.append("La date de fin précède la date de début.")
            return None
        if (self.end.data - self.start.data).days >= MAX_DAYS:
            self.end.errors.append("Dix ans au plus.")
            return None
        return Period(self.start.data, self.end.data)
