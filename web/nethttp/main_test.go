package nethttp_test

import (
	"testing"

	"gatehouse/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }
