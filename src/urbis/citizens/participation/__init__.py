"""Participation: residents' proposals, participatory budgets and polls.

The pure rules live in ``model`` (what all three share and the events), ``proposals``,
``budgets`` and ``polls``; ``store`` holds the tables and queries, ``service`` the
:class:`~urbis.citizens.participation.service.ParticipationService`, and ``views`` the
projections pages and APIs show (public ones never name a supporter or a voter).
"""
