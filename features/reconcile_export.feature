Feature: The operator brings back what TimeMoto never delivered
  TimeMoto keeps every clocking and exports them (Reports, CSV or Excel). When
  its deliveries stop (the webhook disabled or misconfigured on its side), the
  operator reconciles the period from that export: a dry run lists what the
  clockings lack, the apply inserts only that, and the month's hours are right.
  A punch that is both delivered and imported counts once.

  Background:
    Given the pointage service is running
    And Salma Ben Ali works days in Africa/Tunis

  Scenario: TimeMoto stopped calling on Tuesday afternoon; the operator reconciles Tuesday
    Given TimeMoto has delivered her clockings
      | clocking    | local time       |
      | entree      | 2026-11-02 08:00 |
      | sortie      | 2026-11-02 16:00 |
      | entree      | 2026-11-03 08:00 |
      | debut_pause | 2026-11-03 12:00 |
    And TimeMoto stopped calling on Tuesday afternoon
    And TimeMoto's export of Tuesday 03/11/2026, in French, has her clockings
      | Entrée/Sortie | Heure |
      | Entrée        | 08:00 |
      | Pause         | 12:00 |
      | Retour        | 12:45 |
      | Sortie        | 17:00 |
    When the operator runs the reconciliation of Tuesday without --apply
    Then it lists 2 punches TimeMoto has and the clockings lack, and writes nothing
    When the operator runs the reconciliation of Tuesday with --apply
    Then her November 2026 has 975 minutes over 2 days
    When TimeMoto calls again and delivers her Tuesday 17:00 sortie late
    Then the answer is "duplicate" and her November 2026 still has 975 minutes
    When the operator runs the reconciliation of Tuesday with --apply
    Then it lists 0 punches TimeMoto has and the clockings lack, and writes nothing
