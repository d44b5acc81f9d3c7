package velocity

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorrupt is returned (wrapped) when a stored value is not a velocity
// state this version can read.
var ErrCorrupt = errors.New("velocity: corrupt state")

// FormatVersion is the first byte of every encoded state. A reader refuses
// other versions (ErrCorrupt); a new layout takes the next number.
const FormatVersion = 1

// Kinds, the second byte of an encoded state.
const (
	kindCard   = 'c'
	kindDevice = 'd'
)

// Encoded sizes (format version 1, little-endian fixed-width integers):
//
//	card state:   version 1, kind 1, LastOrd 8, MaxTime 8, len(Entries) 4, len(Devices) 4
//	card entry:   Txn 8, Ord 8, Time 8, Amount 8, Currency 3, Device 8, TxnCount1h 4, Amount24h 8, flags 1
//	card device:  Device 8, FirstOrd 8, LastTime 8
//	device state: version 1, kind 1, LastOrd 8, MaxTime 8, len(Entries) 4
//	device entry: Txn 8, Ord 8, Time 8, Card 8, CardCount24h 4
const (
	CardHeaderBytes   = 1 + 1 + 8 + 8 + 4 + 4
	CardEntryBytes    = 8 + 8 + 8 + 8 + 3 + 8 + 4 + 8 + 1
	CardDeviceBytes   = 8 + 8 + 8
	DeviceHeaderBytes = 1 + 1 + 8 + 8 + 4
	DeviceEntryBytes  = 8 + 8 + 8 + 8 + 4
)

// flagNewDevice is the only flag of a card entry.
const flagNewDevice = 1

// CardStateBytes is the encoded size of a card state with the given
// numbers of entries and remembered devices.
func CardStateBytes(entries, devices int) int {
	return CardHeaderBytes + entries*CardEntryBytes + devices*CardDeviceBytes
}

// DeviceStateBytes is the encoded size of a device state with the given
// number of entries.
func DeviceStateBytes(entries int) int { return DeviceHeaderBytes + entries*DeviceEntryBytes }

var le = binary.LittleEndian

// AppendBinary appends the encoding of s to b.
func (s *CardState) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, FormatVersion, kindCard)
	b = le.AppendUint64(b, s.LastOrd)
	b = le.AppendUint64(b, uint64(s.MaxTime))
	b = le.AppendUint32(b, uint32(len(s.Entries)))
	b = le.AppendUint32(b, uint32(len(s.Devices)))
	for i := range s.Entries {
		e := &s.Entries[i]
		b = le.AppendUint64(b, e.Txn)
		b = le.AppendUint64(b, e.Ord)
		b = le.AppendUint64(b, uint64(e.Time))
		b = le.AppendUint64(b, uint64(e.Amount))
		b = append(b, e.Currency[:]...)
		b = le.AppendUint64(b, e.Device)
		b = le.AppendUint32(b, uint32(e.TxnCount1h))
		b = le.AppendUint64(b, uint64(e.Amount24h))
		var flags byte
		if e.NewDevice {
			flags |= flagNewDevice
		}
		b = append(b, flags)
	}
	for _, d := range s.Devices {
		b = le.AppendUint64(b, d.Device)
		b = le.AppendUint64(b, d.FirstOrd)
		b = le.AppendUint64(b, uint64(d.LastTime))
	}
	return b, nil
}

// MarshalBinary returns the encoding of s.
func (s *CardState) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, CardStateBytes(len(s.Entries), len(s.Devices))))
}

// UnmarshalBinary replaces s with the state b encodes, reusing s's slices.
// An empty b is the empty state (the key does not exist). Any other input
// that is not exactly a version-1 card state fails with ErrCorrupt and
// leaves s empty.
func (s *CardState) UnmarshalBinary(b []byte) error {
	s.LastOrd, s.MaxTime = 0, 0
	s.Entries, s.Devices = s.Entries[:0], s.Devices[:0]
	if len(b) == 0 {
		return nil
	}
	if err := checkHeader(b, kindCard, CardHeaderBytes); err != nil {
		return err
	}
	lastOrd, maxTime := le.Uint64(b[2:]), int64(le.Uint64(b[10:]))
	n, m := uint64(le.Uint32(b[18:])), uint64(le.Uint32(b[22:]))
	if want := CardHeaderBytes + n*CardEntryBytes + m*CardDeviceBytes; uint64(len(b)) != want {
		return fmt.Errorf("%w: card state of %d entries and %d devices is %d bytes, not %d", ErrCorrupt, n, m, want, len(b))
	}
	p := b[CardHeaderBytes:]
	for range n {
		e := CardEntry{
			Txn:        le.Uint64(p),
			Ord:        le.Uint64(p[8:]),
			Time:       int64(le.Uint64(p[16:])),
			Amount:     int64(le.Uint64(p[24:])),
			Currency:   Currency(p[32:35]),
			Device:     le.Uint64(p[35:]),
			TxnCount1h: int32(le.Uint32(p[43:])),
			Amount24h:  int64(le.Uint64(p[47:])),
		}
		switch flags := p[55]; flags {
		case 0:
		case flagNewDevice:
			e.NewDevice = true
		default:
			return s.corrupt(fmt.Errorf("%w: card entry flags %#x", ErrCorrupt, flags))
		}
		if e.Ord == 0 || e.Ord > lastOrd {
			return s.corrupt(fmt.Errorf("%w: card entry ordinal %d outside 1..%d", ErrCorrupt, e.Ord, lastOrd))
		}
		s.Entries = append(s.Entries, e)
		p = p[CardEntryBytes:]
	}
	for range m {
		d := CardDevice{Device: le.Uint64(p), FirstOrd: le.Uint64(p[8:]), LastTime: int64(le.Uint64(p[16:]))}
		if d.FirstOrd == 0 || d.FirstOrd > lastOrd {
			return s.corrupt(fmt.Errorf("%w: card device first ordinal %d outside 1..%d", ErrCorrupt, d.FirstOrd, lastOrd))
		}
		s.Devices = append(s.Devices, d)
		p = p[CardDeviceBytes:]
	}
	s.LastOrd, s.MaxTime = lastOrd, maxTime
	return nil
}

func (s *CardState) corrupt(err error) error {
	s.Entries, s.Devices = s.Entries[:0], s.Devices[:0]
	return err
}

// AppendBinary appends the encoding of s to b.
func (s *DeviceState) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, FormatVersion, kindDevice)
	b = le.AppendUint64(b, s.LastOrd)
	b = le.AppendUint64(b, uint64(s.MaxTime))
	b = le.AppendUint32(b, uint32(len(s.Entries)))
	for i := range s.Entries {
		e := &s.Entries[i]
		b = le.AppendUint64(b, e.Txn)
		b = le.AppendUint64(b, e.Ord)
		b = le.AppendUint64(b, uint64(e.Time))
		b = le.AppendUint64(b, e.Card)
		b = le.AppendUint32(b, uint32(e.CardCount24h))
	}
	return b, nil
}

// MarshalBinary returns the encoding of s.
func (s *DeviceState) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, DeviceStateBytes(len(s.Entries))))
}

// UnmarshalBinary replaces s with the state b encodes, reusing s's slice.
// An empty b is the empty state. Any other input that is not exactly a
// version-1 device state fails with ErrCorrupt and leaves s empty.
func (s *DeviceState) UnmarshalBinary(b []byte) error {
	s.LastOrd, s.MaxTime = 0, 0
	s.Entries = s.Entries[:0]
	if len(b) == 0 {
		return nil
	}
	if err := checkHeader(b, kindDevice, DeviceHeaderBytes); err != nil {
		return err
	}
	lastOrd, maxTime := le.Uint64(b[2:]), int64(le.Uint64(b[10:]))
	n := uint64(le.Uint32(b[18:]))
	if want := DeviceHeaderBytes + n*DeviceEntryBytes; uint64(len(b)) != want {
		return fmt.Errorf("%w: device state of %d entries is %d bytes, not %d", ErrCorrupt, n, want, len(b))
	}
	p := b[DeviceHeaderBytes:]
	for range n {
		e := DeviceEntry{
			Txn:          le.Uint64(p),
			Ord:          le.Uint64(p[8:]),
			Time:         int64(le.Uint64(p[16:])),
			Card:         le.Uint64(p[24:]),
			CardCount24h: int32(le.Uint32(p[32:])),
		}
		if e.Ord == 0 || e.Ord > lastOrd {
			s.Entries = s.Entries[:0]
			return fmt.Errorf("%w: device entry ordinal %d outside 1..%d", ErrCorrupt, e.Ord, lastOrd)
		}
		s.Entries = append(s.Entries, e)
		p = p[DeviceEntryBytes:]
	}
	s.LastOrd, s.MaxTime = lastOrd, maxTime
	return nil
}

// checkHeader checks the version and kind bytes and the header's length.
func checkHeader(b []byte, kind byte, header int) error {
	if b[0] != FormatVersion {
		return fmt.Errorf("%w: format version %d, this reader knows %d", ErrCorrupt, b[0], FormatVersion)
	}
	if len(b) < header {
		return fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrCorrupt, len(b), header)
	}
	if b[1] != kind {
		return fmt.Errorf("%w: state kind %q, want %q", ErrCorrupt, b[1], kind)
	}
	return nil
}

// DecodeCard returns the card state a stored value encodes (the empty
// state for nil), or an error matching ErrCorrupt.
func DecodeCard(b []byte) (CardState, error) {
	var s CardState
	err := s.UnmarshalBinary(b)
	return s, err
}

// DecodeDevice returns the device state a stored value encodes (the empty
// state for nil), or an error matching ErrCorrupt.
func DecodeDevice(b []byte) (DeviceState, error) {
	var s DeviceState
	err := s.UnmarshalBinary(b)
	return s, err
}
