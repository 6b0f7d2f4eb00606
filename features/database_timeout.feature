Feature: No punch is lost while the database does not answer
  In production the database connection timed out while TimeMoto reported every
  delivery "Completed", and the punches never reached pointage. Now a delivery the
  database cannot take is spooled on disk, acknowledged 202 "queued", and written to
  pointage once the database answers again, whatever happened to the service meanwhile.

  Background:
    Given the pointage service reaches a fresh PostgreSQL through a fault-injecting proxy

  Scenario: Deliveries while the database does not answer are acknowledged as queued
    When the database stops answering
    And TimeMoto delivers two days of punches for 3 employees
    Then every delivery is answered 202 "queued"
    And the service log says once "the database did not answer in time"

  Scenario: The verifier says what is wrong
    When the database stops answering
    And TimeMoto delivers two days of punches for 3 employees
    Then the verifier answers 503: the database does not answer
    And the verifier counts 12 deliveries waiting in the spool

  Scenario: Queued punches reach pointage once the database answers again
    When the database stops answering
    And TimeMoto delivers two days of punches for 3 employees
    And the database answers again
    Then pointage holds every queued punch with its time of arrival
    And pointage_resume counts 1080 minutes over 2 days and 4 punches for each of the 3 employees
    And the verifier answers ok with an empty spool

  Scenario: A service killed while punches are only spooled loses none of them
    When the database stops answering
    And TimeMoto delivers two days of punches for 3 employees
    And the service is killed with kill -9
    And the service starts again on the same spool
    Then the verifier counts 12 deliveries waiting in the spool
    When the database answers again
    Then pointage holds every queued punch with its time of arrival
    And pointage_resume counts 1080 minutes over 2 days and 4 punches for each of the 3 employees
    And the verifier answers ok with an empty spool
