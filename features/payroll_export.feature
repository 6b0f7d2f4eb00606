Feature: The payroll clerk exports the month
  At month end the payroll clerk downloads the month's worked hours as a
  spreadsheet, signed in as the ERP's admin, and checks each employee's hours,
  days and anomalies. A shift counts in the month of its entree.

  Background:
    Given the pointage service is running with an admin password
    And Salma Ben Ali works nights in Africa/Tunis

  Scenario: Export November, a night shift at month end counts in November
    Given TimeMoto has delivered her clockings
      | clocking | local time       |
      | entree   | 2026-11-27 22:00 |
      | sortie   | 2026-11-28 06:00 |
      | entree   | 2026-11-30 22:00 |
      | sortie   | 2026-12-01 06:00 |
    When the payroll clerk downloads the November 2026 export as admin
    Then the "Récapitulatif" sheet shows Salma Ben Ali with 16:00 hours, 960 minutes, 2 days and 4 punches
    And the "Détail par jour" sheet shows her night of 30/11/2026 from 22:00 to 06:00, 480 minutes
    And the December 2026 export does not list her

  Scenario: Without the admin password the export stays closed
    When someone downloads the November 2026 export without signing in
    Then the answer is 401 and asks for Basic credentials
