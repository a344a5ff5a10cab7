"""The second operator suite (attack 403): a newcomer's first hour and a baton-sdk user's CLI habits, written from
the README's text and baton-sdk's conventions; tests/independent/operator/ is the first and is not repeated."""
