Feature: A corrected DATABASE_URL strands nothing
  An operator starts the service with a mistake in DATABASE_URL: a database name that does not
  exist. TimeMoto's deliveries are acknowledged 202 "queued" and spooled for that database. The
  operator fixes the URL and restarts. A spool only drains into the database it was written for,
  so those deliveries are stranded: the start-up log, the verifier and /metrics say so, and one
  command, the operator's explicit decision, moves them to the database configured now.

  Scenario: Deliveries spooled for a misspelt database reach the right one after a retarget
    Given the service starts with DATABASE_URL naming a database that does not exist
    When TimeMoto delivers two days of punches for 3 employees to it
    Then each delivery is answered 202 "queued"
    And the service log says once "the database named in DATABASE_URL does not exist"
    When the operator corrects DATABASE_URL and restarts the service
    Then the start-up log warns that 12 deliveries are stranded for the misspelt database
    And the verifier answers 503 with 12 deliveries stranded and none pending
    And /metrics reports 12 stranded deliveries
    When the operator runs "python -m service spool retarget"
    Then it lists the 12 deliveries it would move, and moves none
    When the operator runs "python -m service spool retarget --yes"
    Then it says it moved 12 deliveries and wrote them all
    And pointage holds each delivered punch with its time of arrival
    And pointage_resume counts 1080 minutes over 2 days and 4 punches for each of the 3 employees
    And the verifier answers 200 with nothing pending and nothing stranded
