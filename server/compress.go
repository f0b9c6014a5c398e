package server

import (
	"fmt"

	"gatehouse/config"
	"gatehouse/middleware/encode"
)

// compressor returns the compression of a route's compress table. Routes
// whose tables agree share one (and its pools of encoders).
func (b *Built) compressor(x *config.Compress) (*encode.Encoder, error) {
	c := encode.Config{GzipLevel: x.GzipLevel, BrotliLevel: x.BrotliLevel, ZstdLevel: x.ZstdLevel, Types: x.Types}
	for _, name := range x.Encodings {
		cd, _ := encode.ParseCoding(name) // validated
		c.Codings = append(c.Codings, cd)
	}
	if x.MinLength != nil {
		c.MinLength = int(min(x.MinLength.Bytes, 1<<30))
		if c.MinLength == 0 {
			c.MinLength = -1 // "0": every length
		}
	}
	key := fmt.Sprintf("%+v", c)
	if e := b.encoders[key]; e != nil {
		return e, nil
	}
	e, err := encode.New(c)
	if err != nil {
		return nil, &routeProblem{"compress", "", err}
	}
	if b.encoders == nil {
		b.encoders = map[string]*encode.Encoder{}
	}
	b.encoders[key] = e
	return e, nil
}
