Feature: TimeMoto delivers punches to the ERP
  TimeMoto calls the pointage webhook for every clocking. Each signed
  attendance.inserted delivery becomes one row of pointage, once.

  Background:
    Given the pointage service is running on a real PostgreSQL

  Scenario: A day of punches lands in pointage
    When TimeMoto delivers a day of punches for 3 employees
    Then every delivery is answered "stored"
    And pointage holds 4 punches for each of the 3 employees
    And the verifier answers ok

  Scenario: A delivery sent twice is stored once
    When TimeMoto delivers the same punch twice
    Then the answers are "stored" then "duplicate"
    And pointage holds that punch once

  Scenario: A delivery with a wrong signature is refused
    When a delivery is signed with the wrong secret
    Then it is answered 401 with status "error"
    And pointage does not hold it
