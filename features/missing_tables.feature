Feature: No punch is lost while the pointage tables are missing
  In production the tables did not exist, and the punches TimeMoto delivered went
  nowhere. Now they wait in the spool, acknowledged 202 "queued", the verifier and the
  log say that the schema must be applied, and once a DBA applies it they reach pointage.

  Background:
    Given the pointage service reaches a fresh PostgreSQL that has no pointage tables

  Scenario: Deliveries while the tables are missing are acknowledged as queued
    When TimeMoto delivers two days of punches for 3 employees
    Then every delivery is answered 202 "queued"

  Scenario: The verifier and the log say what is wrong and what to do
    When TimeMoto delivers two days of punches for 3 employees
    Then the verifier answers 503 naming every missing object
    And the verifier counts 12 deliveries waiting in the spool
    And the service log says once "apply the schema with `python -m service db apply`"

  Scenario: Queued punches reach pointage once the schema is applied
    When TimeMoto delivers two days of punches for 3 employees
    And the DBA applies the schema with python -m service db apply
    Then pointage holds every queued punch with its time of arrival
    And pointage_resume counts 1080 minutes over 2 days and 4 punches for each of the 3 employees
    And the verifier answers ok with an empty spool

  Scenario: A service killed while punches are only spooled loses none of them
    When TimeMoto delivers two days of punches for 3 employees
    And the service is killed with kill -9
    And the service starts again on the same spool
    And the DBA applies the schema with python -m service db apply
    Then pointage holds every queued punch with its time of arrival
    And pointage_resume counts 1080 minutes over 2 days and 4 punches for each of the 3 employees
    And the verifier answers ok with an empty spool
