module example.com/xarchrecipe

go 1.19
