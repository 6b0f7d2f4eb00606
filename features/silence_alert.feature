Feature: TimeMoto stops calling during working hours
  The workshop's clocks call the webhook all day. When TimeMoto stops calling
  (the webhook disabled after errors, its URL or secret changed), the operators
  are told once, on the status page and in their chat, and told again once it
  calls again. Nights and Sundays are quiet by nature: only working time counts.

  Background:
    Given the pointage service watches with working hours "Mon-Sat 06:00-20:00" in Africa/Tunis
    And a silence alert after 2 hours
    And the operators' chat receives the alerts

  Scenario: Silence on a Monday morning raises one alert, and the next delivery clears it
    Given TimeMoto delivered a punch on Monday 30 November 2026 at 08:00
    When nothing arrives until 10:05
    Then the status page shows the alert "TimeMoto n'appelle plus"
    And the chat received 1 message saying "alerte"
    When nothing arrives until 12:00
    Then the chat received 1 message saying "alerte"
    When TimeMoto delivers a punch at 12:01
    Then the status page shows no alert
    And the chat received 1 message saying "fin d'alerte"

  Scenario: A quiet Sunday is not a silence
    Given TimeMoto delivered a punch on Saturday 28 November 2026 at 19:00
    When nothing arrives until Monday 06:30
    Then the status page shows no alert
    And the chat received no message
