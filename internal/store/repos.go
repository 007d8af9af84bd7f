package store

import "github.com/dcimd/dcimd/internal/server"

// Inventory returns the inventory stores for the server service.
func (d *DB) Inventory() server.Stores {
	v := &Views{db: d}
	return server.Stores{
		Locations: newLocations(d), Racks: newRacks(d), Platforms: newPlatforms(d), Chassis: newChassis(d),
		Switches: newSwitches(d), SwitchPorts: newSwitchPorts(d), PDUs: newPDUs(d), PDUPorts: newPDUPorts(d),
		BMCs: newBMCs(d), OSTemplates: newOSTemplates(d), Servers: newServers(d),
		Views: v, Connections: v, Users: v,
	}
}

// Auth returns the auth store.
func (d *DB) Auth() *Auth { return &Auth{db: d} }

// Views returns the server view store (also power status recording).
func (d *DB) Views() *Views { return &Views{db: d} }
