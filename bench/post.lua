-- Every request a POST without a body: the method that CSRF checks and a
-- session middleware saves for; the fields come from wrk's -H.
wrk.method = "POST"
