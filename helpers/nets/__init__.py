"""The networks and how their outputs become points: regressors, heatmap UNets, the heatmap
codec, the mirrored test-time average."""
