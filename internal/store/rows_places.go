package store

import (
	"time"

	"github.com/dcimd/dcimd/internal/listq"
	"github.com/dcimd/dcimd/internal/server"
)

var (
	fInt  = func(e string) listq.Field { return listq.Field{Expr: e, Type: listq.TypeInt} }
	fStr  = func(e string) listq.Field { return listq.Field{Expr: e, Type: listq.TypeString} }
	fBool = func(e string) listq.Field { return listq.Field{Expr: e, Type: listq.TypeBool} }
	fTime = func(e string) listq.Field { return listq.Field{Expr: e, Type: listq.TypeTime} }
)

type locationRow struct {
	ID          int64 `gorm:"column:id;primaryKey"`
	Name        string
	Geolocation string
	Userspace   int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (r *locationRow) rowID() int64 { return r.ID }

var locationFields = listq.Fields{"id": fInt("id"), "name": fStr("name"), "geolocation": fStr("geolocation"),
	"userspace": fInt("userspace"), "created_at": fTime("created_at")}

func newLocations(d *DB) *table[server.Location, locationRow] {
	return &table[server.Location, locationRow]{db: d, name: "locations", what: "location", fields: locationFields, defOrder: "id",
		toRow: func(_ *DB, v *server.Location) (locationRow, error) {
			return locationRow{ID: v.ID, Name: v.Name, Geolocation: v.Geolocation, Userspace: v.Userspace, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}, nil
		},
		fromRow: func(_ *DB, r *locationRow) (server.Location, error) {
			return server.Location{ID: r.ID, Name: r.Name, Geolocation: r.Geolocation, Userspace: r.Userspace, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
		}}
}

type rackRow struct {
	ID         int64 `gorm:"column:id;primaryKey"`
	Name       string
	Size       int
	LocationID int64 `gorm:"column:location_id"`
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func (r *rackRow) rowID() int64 { return r.ID }

var rackFields = listq.Fields{"id": fInt("id"), "name": fStr("name"), "size": fInt("size"), "location_id": fInt("location_id"),
	"location": fInt("location_id"), "created_at": fTime("created_at")}

func newRacks(d *DB) *table[server.Rack, rackRow] {
	return &table[server.Rack, rackRow]{db: d, name: "racks", what: "rack", fields: rackFields, defOrder: "id",
		toRow: func(_ *DB, v *server.Rack) (rackRow, error) {
			return rackRow{ID: v.ID, Name: v.Name, Size: v.Size, LocationID: v.LocationID, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}, nil
		},
		fromRow: func(_ *DB, r *rackRow) (server.Rack, error) {
			return server.Rack{ID: r.ID, Name: r.Name, Size: r.Size, LocationID: r.LocationID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
		}}
}

type platformRow struct {
	ID        int64 `gorm:"column:id;primaryKey"`
	Name      string
	Size      int
	Type      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (r *platformRow) rowID() int64 { return r.ID }

var platformFields = listq.Fields{"id": fInt("id"), "name": fStr("name"), "size": fInt("size"), "type": fStr("type"), "created_at": fTime("created_at")}

func newPlatforms(d *DB) *table[server.Platform, platformRow] {
	return &table[server.Platform, platformRow]{db: d, name: "platforms", what: "platform", fields: platformFields, defOrder: "id",
		toRow: func(_ *DB, v *server.Platform) (platformRow, error) {
			return platformRow{ID: v.ID, Name: v.Name, Size: v.Size, Type: v.Type, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}, nil
		},
		fromRow: func(_ *DB, r *platformRow) (server.Platform, error) {
			return server.Platform{ID: r.ID, Name: r.Name, Size: r.Size, Type: r.Type, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
		}}
}

type chassisRow struct {
	ID              int64 `gorm:"column:id;primaryKey"`
	Name            string
	Size            int
	ServerSlotCount int    `gorm:"column:server_slot_count"`
	LocationID      *int64 `gorm:"column:location_id"`
	RackID          *int64 `gorm:"column:rack_id"`
	Unit            *int
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

func (r *chassisRow) rowID() int64 { return r.ID }

var chassisFields = listq.Fields{"id": fInt("id"), "name": fStr("name"), "size": fInt("size"), "server_slot_count": fInt("server_slot_count"),
	"location_id": fInt("location_id"), "rack_id": fInt("rack_id"), "unit": fInt("unit"), "created_at": fTime("created_at")}

func newChassis(d *DB) *table[server.Chassis, chassisRow] {
	return &table[server.Chassis, chassisRow]{db: d, name: "chassis", what: "chassis", fields: chassisFields, defOrder: "id",
		toRow: func(_ *DB, v *server.Chassis) (chassisRow, error) {
			return chassisRow{ID: v.ID, Name: v.Name, Size: v.Size, ServerSlotCount: v.ServerSlotCount, LocationID: v.LocationID,
				RackID: v.RackID, Unit: v.Unit, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}, nil
		},
		fromRow: func(_ *DB, r *chassisRow) (server.Chassis, error) {
			return server.Chassis{ID: r.ID, Name: r.Name, Size: r.Size, ServerSlotCount: r.ServerSlotCount, LocationID: r.LocationID,
				RackID: r.RackID, Unit: r.Unit, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
		}}
}
