package gateway

import (
	"context"
	"sync"
)

// worker is a part without a listener (the queue runner). It runs from Start until
// Shutdown, which stops it after the listeners and before the store closes.
type worker struct {
	name string
	run  func(ctx context.Context) // returns once ctx has ended and its work is wound down
}

// workerSet runs the gateway's workers.
type workerSet struct {
	list   []worker
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (ws *workerSet) start(g *Gateway) {
	ctx, cancel := context.WithCancel(context.Background())
	ws.cancel = cancel
	for _, w := range ws.list {
		ws.wg.Add(1)
		go func() {
			defer ws.wg.Done()
			g.log.Info("worker started", "worker", w.name)
			w.run(ctx)
		}()
	}
}

func (ws *workerSet) stop() {
	if ws.cancel != nil {
		ws.cancel()
	}
	ws.wg.Wait()
}
